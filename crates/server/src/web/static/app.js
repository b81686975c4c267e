// Keepwell: a little progressive enhancement. Every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // Filters and pickers marked data-autosubmit apply as soon as they change.
  for (const el of document.querySelectorAll("[data-autosubmit]")) {
    el.addEventListener("change", () => el.form && el.form.submit());
  }
  // Destructive forms ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }
  // The language switch returns to the page it was used on.
  const next = document.querySelector("#language-form input[name=next]");
  if (next) next.value = location.pathname + location.search;
});
