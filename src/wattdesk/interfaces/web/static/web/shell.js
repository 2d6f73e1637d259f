// Behaviour of the shell (no inline handlers: the Content-Security-Policy allows scripts from 'self' only).
//   <button data-toggle-nav>          toggles the sidebar on small screens (body.nav-open)
//   <select data-autosubmit>          submits its form on change (language switch)
//   <button data-print>               opens the print dialog (receipts, bills)
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-toggle-nav]");
  if (button) {
    document.body.classList.toggle("nav-open");
  }
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
document.addEventListener("change", function (event) {
  var field = event.target.closest("[data-autosubmit]");
  if (field && field.form) {
    field.form.submit();
  }
});
