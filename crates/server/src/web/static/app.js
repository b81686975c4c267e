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
  // A segment filter shows how many accounts it holds as it is typed.
  for (const box of document.querySelectorAll("textarea[data-live-count]")) {
    const out = document.querySelector(box.dataset.liveCount);
    let timer;
    const update = async () => {
      const filter = box.value.trim();
      if (!filter) return;
      try {
        const res = await fetch("/segments/count?filter=" + encodeURIComponent(filter), { headers: { accept: "application/json" } });
        const body = await res.json();
        out.textContent = body.error ? body.error : body.count === null ? "" : body.count + " " + (out.dataset.accounts || "");
        out.classList.toggle("error", !!body.error);
      } catch (e) { /* the form still works without the count */ }
    };
    box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 250); });
    if (box.value.trim()) update();
  }
  // A header checkbox chooses every row's box of its name (the accounts list).
  for (const all of document.querySelectorAll("input[data-select-all]")) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`)) box.checked = all.checked;
    });
  }
  // A bulk action shows only the fields it needs.
  const action = document.getElementById("bulk-action");
  if (action) {
    const sync = () => {
      for (const field of document.querySelectorAll("[data-for-action]")) field.hidden = field.dataset.forAction !== action.value;
    };
    action.addEventListener("change", sync);
    sync();
  }
  // The language switch returns to the page it was used on.
  const next = document.querySelector("#language-form input[name=next]");
  if (next) next.value = location.pathname + location.search;
});
