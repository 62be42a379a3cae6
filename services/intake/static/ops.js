// The operations page updates itself in place: every `data-refresh` seconds it fetches the page
// again and morphs each `[data-live]` region into the new one (morphdom keeps the elements, so
// focus, text selection and a table scrolled sideways stay where they were). A short summary of
// the figures is announced politely when it changes; the updates can be paused. Without this
// script the page is a plain page that the user reloads.
(function () {
  "use strict";

  var seconds = Number(document.body.dataset.refresh) || 10;
  var pause = document.getElementById("pause");
  var cadence = document.getElementById("cadence");
  var announce = document.getElementById("announce");
  var main = document.getElementById("main");
  if (!pause || !cadence || !announce || !main || typeof morphdom !== "function") {
    return; // not the operations page, or morphdom missing: stay a page the user reloads
  }

  var paused = false;
  var timer = null;
  var summary = main.dataset.summary;

  function say(text) {
    announce.textContent = text;
  }

  function describe() {
    cadence.textContent = paused
      ? "Updates paused."
      : "Updates every " + seconds + " s.";
    pause.textContent = paused ? "Resume updates" : "Pause updates";
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = paused ? null : window.setTimeout(update, seconds * 1000);
  }

  function apply(fresh) {
    document.querySelectorAll("[data-live]").forEach(function (region) {
      var next = fresh.getElementById(region.id);
      if (next) {
        morphdom(region, next);
      }
    });
    var now = document.getElementById("main").dataset.summary;
    if (now !== summary) {
      summary = now;
      say(now);
    }
  }

  function update() {
    if (document.hidden) {
      schedule(); // nobody is looking: ask again later
      return;
    }
    fetch(window.location.pathname, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
      cache: "no-store",
      // Without a session the page redirects to the identity provider, another origin a
      // fetch cannot follow: the redirect itself says the session has ended.
      redirect: "manual",
    })
      .then(function (answer) {
        var away = answer.type === "opaqueredirect" || answer.redirected;
        if (away || !answer.ok) {
          throw new Error(away ? "signed out" : "HTTP " + answer.status);
        }
        return answer.text();
      })
      .then(function (text) {
        apply(new DOMParser().parseFromString(text, "text/html"));
        schedule();
      })
      .catch(function (error) {
        if (String(error.message) === "signed out") {
          paused = true;
          describe();
          pause.hidden = true;
          say("Your session has ended: reload the page to sign in again.");
          return;
        }
        say("The figures could not be updated; trying again in " + seconds + " s.");
        schedule();
      });
  }

  pause.addEventListener("click", function () {
    paused = !paused;
    describe();
    say(paused ? "Updates paused." : "Updates resumed.");
    if (paused) {
      schedule();
    } else {
      update();
    }
  });

  pause.hidden = false;
  describe();
  schedule();
})();
