// Offline once loaded: every file the page fetches (site, wasm, models) is kept in a
// cache and answered from it when the network is gone. Network first, so a rebuilt
// site is picked up whenever the host can be reached. Keeping a copy is best effort: a
// browser may refuse to store (Chromium does when the disk is nearly full), and then the
// page must still work online, so the refusal is told to the page, never thrown.
const CACHE = "prixfixe-zoo";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok) {
          try {
            await cache.put(request, response.clone());
          } catch (refused) {
            await tellPages(event.clientId, refused);
          }
        }
        return response;
      } catch (error) {
        const hit = await cache.match(request);
        if (hit) return hit;
        throw error;
      }
    })(),
  );
});

async function tellPages(clientId, refused) {
  const reason = `${refused && refused.name ? refused.name : "error"}: ${refused && refused.message ? refused.message : refused}`;
  for (const client of await self.clients.matchAll({ type: "window" })) {
    client.postMessage({ type: "not-kept-offline", reason });
  }
}
