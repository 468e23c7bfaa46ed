// Swagger UI over one of the connector's OpenAPI documents, chosen by
// ?api=queries|commands. A file of its own, not an inline script: the /docs/
// CSP allows scripts from 'self' only. BaseLayout rather than the standalone
// one: its top bar draws a logo with an inline <style>, which the CSP refuses.
"use strict";

const APIS = {
  queries: "/queries/openapi.json",
  commands: "/commands/openapi.json",
};

window.addEventListener("DOMContentLoaded", () => {
  const requested = new URLSearchParams(window.location.search).get("api");
  const api = Object.hasOwn(APIS, requested) ? requested : "queries";
  for (const link of document.querySelectorAll("nav a[data-api]")) {
    if (link.dataset.api === api) {
      link.setAttribute("aria-current", "page");
    }
  }
  window.ui = SwaggerUIBundle({
    url: APIS[api],
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Never send the document to the public validator service.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
