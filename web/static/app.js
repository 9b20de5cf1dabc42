// The one script of the package center: the cancel confirmation opens as a dialog.
// Without it the same link opens the confirmation as a page, so nothing depends on it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("a[data-dialog]").forEach(function (opener) {
    var dialog = document.getElementById(opener.getAttribute("data-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") return;
    opener.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.showModal();
    });
    dialog.addEventListener("close", function () { opener.focus(); });
    if (dialog.hasAttribute("data-open")) dialog.showModal();
  });
});
