// handler.js -- a Spin JS SDK (v3) HTTP handler: the fetch-event style of `spin new http-js`
// without a router, built by @spinframework/build-tools' j2w into a component that exports
// wasi:http/incoming-handler@0.2.3 (build.sh). GET answers with the path and a custom header;
// POST echoes the body with status 201 and the request's content-type.
async function handle(request) {
  const url = new URL(request.url);
  if (request.method === "GET") {
    return new Response(`hello from spin-js: ${url.pathname}\n`, {
      status: 200,
      headers: { "content-type": "text/plain", "x-kapsul-test": "spin-js" },
    });
  }
  if (request.method === "POST") {
    const body = await request.text();
    return new Response(`echo ${body.length}: ${body}`, {
      status: 201,
      headers: { "content-type": request.headers.get("content-type") ?? "application/octet-stream" },
    });
  }
  return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, POST" } });
}

addEventListener("fetch", (event) => event.respondWith(handle(event.request)));
