// Filters apply as soon as one changes; without JavaScript the Filter button does the same.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("filters");
  if (!form) return;
  form.querySelectorAll("select, input[type=checkbox]").forEach((select) => {
    select.addEventListener("change", () => form.requestSubmit());
  });
});
