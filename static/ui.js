export function render(root, meshkit) {
  root.textContent = "MeshKit ready";
}
