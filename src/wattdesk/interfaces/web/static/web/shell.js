// Behaviour of the shell (no inline handlers: the Content-Security-Policy allows scripts from 'self' only).
//   <button data-toggle-nav>          toggles the sidebar on small screens (body.nav-open)
//   <select data-autosubmit>          submits its form on change (language switch)
//   <button data-print>               opens the print dialog (receipts, bills)
//   <input data-select-all="NAME">    (un)ticks every checkbox named NAME on the page (batch approval)
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
  var all = event.target.closest("[data-select-all]");
  if (all) {
    document.querySelectorAll('input[type="checkbox"][name="' + all.dataset.selectAll + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  }
});
