/* Switchboard sandbox: a stand-in for Meta's FB JS SDK (only what Embedded
 * Signup uses: FB.init, FB.login, FB.getLoginStatus). Served by the sandbox;
 * __SANDBOX_ORIGIN__ is replaced with the sandbox's origin. */
(function () {
  "use strict";
  var ORIGIN = "__SANDBOX_ORIGIN__";
  var settings = null;

  function login(callback, options) {
    if (!settings) {
      throw new Error("FB.login() called before FB.init().");
    }
    if (typeof callback !== "function") {
      throw new Error("FB.login() needs a callback.");
    }
    options = options || {};
    var extras = options.extras || {};
    var wantsCode = options.response_type === "code" && options.override_default_response_type === true;
    var params = new URLSearchParams({
      app_id: settings.appId || "",
      config_id: options.config_id || "",
      response_type: options.response_type || "token",
      graph_version: settings.version || "",
      session_info_version: extras.sessionInfoVersion || "",
      es_version: extras.version || "",
      feature_type: extras.featureType || "",
      opener_origin: window.location.origin
    });
    var popup = window.open(ORIGIN + "/dialog/embedded_signup?" + params.toString(), "fb_embedded_signup", "width=640,height=760");
    var done = false;

    function finish(response) {
      if (done) return;
      done = true;
      window.removeEventListener("message", onMessage);
      clearInterval(watcher);
      callback(response);
    }
    function onMessage(event) {
      if (event.origin !== ORIGIN) return;
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (!data || data.type !== "SANDBOX_FB_LOGIN") return;
      if (!data.code) {
        finish({ status: "unknown", authResponse: null });
      } else if (wantsCode) {
        finish({ status: "connected", authResponse: { code: data.code, userID: null, expiresIn: null, accessToken: null } });
      } else {
        // Without response_type 'code' (and the override) the SDK hands out a
        // short-lived user token instead of a code: useless for onboarding.
        finish({ status: "connected", authResponse: { accessToken: "sandbox-short-lived-user-token", userID: "0", expiresIn: 3600 } });
      }
    }
    window.addEventListener("message", onMessage);
    // Closing the popup without finishing is a cancellation.
    var watcher = setInterval(function () {
      if (!popup || popup.closed) {
        setTimeout(function () { finish({ status: "unknown", authResponse: null }); }, 300);
        clearInterval(watcher);
      }
    }, 200);
  }

  window.FB = {
    init: function (options) {
      settings = options || {};
      if (!settings.appId) console.error("FB.init: appId is required");
    },
    login: login,
    getLoginStatus: function (callback) { callback({ status: "unknown", authResponse: null }); }
  };
  if (typeof window.fbAsyncInit === "function") {
    setTimeout(window.fbAsyncInit, 0);
  }
})();
