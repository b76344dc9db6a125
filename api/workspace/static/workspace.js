// The error summary's links move focus to their field, as GOV.UK's do: a link to a group of
// fields focuses its first input. Without JavaScript the links still scroll to the field.
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.getElementById("error-summary");
  if (!summary) return;
  summary.focus();
  summary.querySelectorAll("a[href^='#']").forEach((link) => {
    link.addEventListener("click", (event) => {
      const target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      const input = target.matches("input, select, textarea, [tabindex]")
        ? target : target.querySelector("input, select, textarea");
      (input || target).focus();
      target.scrollIntoView({ block: "center" });
    });
  });
});
