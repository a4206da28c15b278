// Drives @microsoft/microsoft-graph-client 3.0.7 against the module and
// prints TAP lines ("ok - ..." / "not ok - ...") for t/50-graph-client.t.
//
//   node graph_client.js tls  https://127.0.0.1:PORT TOKEN
//       Client.init with the stock authentication handler and
//       customHosts (the certificate comes from NODE_EXTRA_CA_CERTS)
//   node graph_client.js http http://127.0.0.1:PORT TOKEN
//       Client.initWithMiddleware with a middleware that sets the token
//   node graph_client.js stock-http http://127.0.0.1:PORT TOKEN
//       Client.init over plain http: the stock handler drops the token

'use strict';

const {
    Client, HTTPMessageHandler, PageIterator, GraphError,
} = require('@microsoft/microsoft-graph-client');

const [mode, base, token] = process.argv.slice(2);

let failed = 0;

function check(ok, name, detail) {
    if (!ok) {
        failed++;
    }
    console.log(`${ok ? 'ok' : 'not ok'} - ${mode}: ${name}`
        + (ok || detail === undefined ? '' : ` # ${JSON.stringify(detail)}`));
}

// sets the token on every request, whatever the host
class BearerMiddleware {
    constructor(t) {
        this.token = t;
    }

    async execute(context) {
        if (typeof Request !== 'undefined' && context.request instanceof Request) {
            context.request.headers.set('Authorization', `Bearer ${this.token}`);
        } else {
            context.options = context.options || {};
            context.options.headers = context.options.headers || {};
            context.options.headers.Authorization = `Bearer ${this.token}`;
        }
        return this.nextMiddleware.execute(context);
    }

    setNext(next) {
        this.nextMiddleware = next;
    }
}

function client() {
    if (mode === 'http') {
        const auth = new BearerMiddleware(token);
        auth.setNext(new HTTPMessageHandler());
        return Client.initWithMiddleware({
            middleware: auth, baseUrl: base, defaultVersion: 'beta',
        });
    }

    return Client.init({
        authProvider: (done) => done(null, token),
        baseUrl: base,
        defaultVersion: 'beta',
        customHosts: new Set([new URL(base).hostname]),
    });
}

const sets = [
    {
        set: 'ExtendRemoteHelpSessionResponse',
        type: '#microsoft.graph.extendRemoteHelpSessionResponse',
        create: { acsHelperUserToken: 'token value' },
        update: { pubSubHelperAccessUri: 'https://example.com/pubsub' },
    },
    {
        set: 'RequestRemoteHelpSessionAccessResponse',
        type: '#microsoft.graph.requestRemoteHelpSessionAccessResponse',
        create: { sessionType: 'viewScreen' },
        update: { sessionType: 'takeFullControl' },
    },
    {
        set: 'RemoteHelpSessionRetrieveResponse',
        type: '#microsoft.graph.retrieveRemoteHelpSessionResponse',
        create: { deviceName: 'device one' },
        update: { deviceName: 'device two' },
    },
];

async function main() {
    const c = client();

    if (mode === 'stock-http') {
        try {
            await c.api('/RemoteHelpSessionRetrieveResponse').get();
            check(false, 'stock handler over http: expected a 401');
        } catch (e) {
            check(e instanceof GraphError && e.statusCode === 401
                && e.code === 'InvalidAuthenticationToken',
                'stock handler over http: no token sent, GraphError 401',
                { statusCode: e.statusCode, code: e.code });
        }
        return;
    }

    for (const s of sets) {
        const key = `sdk ${mode} key/1`;
        const path = `/${s.set}`;
        const item = `${path}/${encodeURIComponent(key)}`;

        const created = await c.api(path).post({
            '@odata.type': s.type, sessionKey: key, ...s.create,
        });
        check(created.sessionKey === key && created['@odata.type'] === s.type,
            `${s.set}: create`, created);

        const got = await c.api(item).get();
        check(JSON.stringify(got) === JSON.stringify(created),
            `${s.set}: get returns what create returned`, got);

        const updated = await c.api(item).patch(s.update);
        const field = Object.keys(s.update)[0];
        check(updated[field] === s.update[field] && updated.sessionKey === key,
            `${s.set}: update`, updated);
        const again = await c.api(item).get();
        check(again[field] === s.update[field], `${s.set}: get after update`, again);

        // five more, then every page of two
        for (let i = 0; i < 5; i++) {
            await c.api(path).post({ sessionKey: `${mode}-page-${i}`, ...s.create });
        }
        const first = await c.api(path).top(2).get();
        check(first.value.length === 2 && typeof first['@odata.nextLink'] === 'string',
            `${s.set}: first page of 2 with @odata.nextLink`, first);

        const keys = [];
        const it = new PageIterator(c, first, (o) => {
            keys.push(o.sessionKey);
            return true;
        });
        await it.iterate();
        keys.sort();
        const want = [key, ...[0, 1, 2, 3, 4].map((i) => `${mode}-page-${i}`)].sort();
        check(JSON.stringify(keys) === JSON.stringify(want),
            `${s.set}: PageIterator follows nextLink through every page`, keys);

        await c.api(item).delete();
        try {
            await c.api(item).get();
            check(false, `${s.set}: get after delete: expected 404`);
        } catch (e) {
            check(e instanceof GraphError && e.statusCode === 404
                && e.code === 'ResourceNotFound' && /^[0-9a-f-]{36}$/.test(e.requestId),
                `${s.set}: delete, then GraphError 404 ResourceNotFound with requestId`,
                { statusCode: e.statusCode, code: e.code, requestId: e.requestId });
        }

        for (let i = 0; i < 5; i++) {
            await c.api(`${path}/${mode}-page-${i}`).delete();
        }
    }

    try {
        await c.api('/RemoteHelpSessionRetrieveResponse').post({ sessionKey: 'x', foo: 1 });
        check(false, 'bad body: expected a 400');
    } catch (e) {
        check(e instanceof GraphError && e.statusCode === 400 && e.code === 'BadRequest'
            && /property 'foo' does not exist/.test(e.message)
            && /^[0-9a-f-]{36}$/.test(e.requestId),
            'bad body: GraphError 400 BadRequest with message and requestId',
            { statusCode: e.statusCode, code: e.code, message: e.message, requestId: e.requestId });
    }
}

main().then(() => {
    process.exit(failed ? 1 : 0);
}, (e) => {
    console.log(`not ok - ${mode}: unexpected ${e && e.stack ? e.stack : JSON.stringify(e)}`);
    process.exit(1);
});
