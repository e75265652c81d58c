// The new-key page's Copy button (progressive enhancement: without JavaScript the key is in a
// read-only field to select and copy by hand, and the button stays hidden).
(function () {
  "use strict";
  var button = document.querySelector("button[data-copy]");
  if (!button || !navigator.clipboard) { return; }
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.querySelector("[data-copied]");
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(function () {
      status.textContent = "Copied.";
    }, function () {
      field.select();
      status.textContent = "Copying was refused: the key is selected, copy it by hand.";
    });
  });
})();
