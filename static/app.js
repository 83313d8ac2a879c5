// The PWA: boots the runtime, exposes globalThis.meshkit, renders the app (ui.js).
import { boot } from "./meshkit.js";

const root = document.getElementById("app");
try {
  globalThis.meshkit = await boot();
  document.documentElement.dataset.meshkitReady = "true";
  const { render } = await import("./ui.js");
  render(root, globalThis.meshkit);
} catch (error) {
  document.documentElement.dataset.meshkitReady = "error";
  document.documentElement.dataset.meshkitError = error.code || "internal";
  root.innerHTML = "";
  const message = document.createElement("p");
  message.className = "fatal";
  message.setAttribute("role", "alert");
  message.textContent = "MeshKit cannot start here: " + (error.message || error);
  root.append(message);
}
