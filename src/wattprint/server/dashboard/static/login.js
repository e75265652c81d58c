// The sign-in form posts JSON to the server's own POST /api/v1/login (its password check,
// rate limit and session cookies); on success it opens the page asked for.
(function () {
  "use strict";
  var form = document.querySelector("form[data-login]");
  if (!form) { return; }
  var status = document.getElementById("login-status");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    status.textContent = "Signing in…";
    fetch(form.getAttribute("action"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({email: form.elements.email.value, password: form.elements.password.value})
    }).then(function (response) {
      if (response.ok) { window.location.assign(form.getAttribute("data-next")); return null; }
      return response.json().then(function (body) {
        var detail = body && body.detail;
        status.textContent = (detail && detail.message) || ("Sign-in refused (" + response.status + ")");
      }, function () { status.textContent = "Sign-in refused (" + response.status + ")"; });
    }, function () { status.textContent = "The server did not answer: try again."; });
  });
})();
