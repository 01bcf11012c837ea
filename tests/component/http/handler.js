// handler.js -- a wasi:http/proxy handler written against the fetch event (componentize-js).
// Built by build-http.mjs; served by tests/serve/components.py under kapsul serve / kapsul up and
// under `jco serve` as the reference. Routes:
//   GET  /hello          200 "hello from js\n" with x-handler: componentize-js
//   GET  /count          "count=N": a module-level counter (1 on every fresh instance)
//   POST /echo           the request body back (any bytes), with its content-type
//   GET  /headers        x-echo: the request's x-in header; the body lists the method and path
//   GET  /spin           the spin-* request headers kapsul up adds (Spin's executor), one per line
//   GET  /status/N       status N, body "status N\n"
//   GET  /fetch          fetch(URL in the x-target header): "upstream STATUS: BODY", or 502 on error
let count = 0;

async function handle(req) {
  count++;
  const url = new URL(req.url);
  const path = url.pathname;
  if (path === "/hello")
    return new Response("hello from js\n", { headers: { "x-handler": "componentize-js" } });
  if (path === "/count") return new Response(`count=${count}\n`);
  if (path === "/echo") {
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(body, {
      status: req.method === "POST" ? 200 : 405,
      headers: { "content-type": req.headers.get("content-type") || "application/octet-stream" },
    });
  }
  if (path === "/headers") {
    return new Response(`${req.method} ${path}${url.search}\n`, {
      headers: { "x-echo": req.headers.get("x-in") || "none", "x-multi": "a, b" },
    });
  }
  if (path === "/spin") {
    const names = ["spin-full-url", "spin-path-info", "spin-matched-route", "spin-base-path",
                   "spin-component-route", "spin-raw-component-route"];
    return new Response(names.map((n) => `${n}=${req.headers.get(n)}\n`).join(""));
  }
  if (path.startsWith("/status/")) {
    const n = parseInt(path.slice(8), 10);
    return new Response(`status ${n}\n`, { status: n });
  }
  if (path === "/fetch") {
    const target = req.headers.get("x-target");
    try {
      const r = await fetch(target);
      const text = await r.text();
      return new Response(`upstream ${r.status}: ${text}`);
    } catch (e) {
      return new Response(`fetch failed: ${e}\n`, { status: 502 });
    }
  }
  return new Response("not found\n", { status: 404 });
}

addEventListener("fetch", (event) => event.respondWith(handle(event.request)));
