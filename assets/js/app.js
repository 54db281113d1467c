// Gatehouse UI shell. Pages are added as the API grows; this module routes on the path.
const pages = {
  "/": { title: "Gatehouse", intro: "Campus sign-in and driver verification." },
};

function render() {
  const page = pages[window.location.pathname] ?? {
    title: "Coming soon",
    intro: "This page is not available yet.",
  };
  document.title = `${page.title} · Gatehouse`;
  document.getElementById("page-title").textContent = page.title;
  document.getElementById("page-intro").textContent = page.intro;
}

async function showHealth() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("/health", { headers: { Accept: "application/json" } });
    status.textContent = response.ok ? "The service is up." : "The service is not answering.";
  } catch {
    status.textContent = "The service cannot be reached.";
  }
}

render();
showHealth();
