// Starts Swagger UI on the served spec. A file of its own because the CSP forbids inline script.
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    withCredentials: true,
    validatorUrl: null,
  });
});
