// Runs before app.js: if the browser refuses app.js or a module it needs (its hash in
// index.html does not match, or it cannot load), say so instead of leaving a blank page.
const app = document.querySelector('script[data-meshkit="app"]');
app.addEventListener("error", () => {
  document.documentElement.dataset.meshkitReady = "error";
  document.documentElement.dataset.meshkitError = "integrity";
  const text = document.createElement("p");
  text.className = "fatal";
  text.setAttribute("role", "alert");
  text.textContent = "MeshKit cannot start here: its code could not be loaded or does not match the hash fixed " +
    "when it was built (altered after the build?), so it was not run.";
  document.getElementById("app").replaceChildren(text);
});
