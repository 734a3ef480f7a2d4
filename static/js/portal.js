// Progressive enhancement only: every page works without this file.
// An error summary link moves focus to its field and scrolls its label or legend into view,
// as the GOV.UK Design System's error summary does.
document.addEventListener("click", function (event) {
  var link = event.target.closest("[data-error-summary] a[href^='#']");
  if (!link) return;
  var input = document.getElementById(link.getAttribute("href").slice(1));
  if (!input) return;
  event.preventDefault();
  var legend = input.closest("fieldset") && input.closest("fieldset").querySelector("legend");
  var label = document.querySelector("label[for='" + input.id + "']");
  (legend || label || input).scrollIntoView();
  input.focus({ preventScroll: true });
});
