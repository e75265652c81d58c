// Team server pages: "Sign out" posts to /api/v1/logout with the session's CSRF token (the
// readable wp_csrf cookie) in the X-CSRF-Token header, as the API requires, then opens the
// sign-in page. No inline script (the page's CSP forbids it).
(function () {
  "use strict";
  var form = document.querySelector("form[data-logout]");
  if (!form) { return; }
  function csrf() {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf("wp_csrf=") === 0; });
    return found.length ? decodeURIComponent(found[0].slice(8)) : "";
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    fetch(form.getAttribute("action"), {method: "POST", credentials: "same-origin",
                                         headers: {"X-CSRF-Token": csrf()}})
      .then(function () { window.location.assign(form.getAttribute("data-next")); });
  });
})();
