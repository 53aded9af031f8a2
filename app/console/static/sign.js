// Sign an acknowledgement in the browser with the participant's own key (WebCrypto), or load a
// JWS made with `lnx sign` from a file. The private key file is read here and never leaves the
// page: only the finished compact JWS is posted, through the same form as an uploaded one.
(function () {
  "use strict";

  var subtle = window.crypto && window.crypto.subtle;
  var enc = new TextEncoder();

  function b64url(bytes) {
    var bin = "";
    bytes.forEach(function (b) { bin += String.fromCharCode(b); });
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // What each key family signs with: JWS alg, WebCrypto import and sign parameters, RFC 7638 members.
  var FAMILIES = {
    "OKP/Ed25519": {
      alg: "Ed25519", importParams: { name: "Ed25519" }, signParams: { name: "Ed25519" },
      thumbprintMembers: ["crv", "kty", "x"], privateMembers: ["kty", "crv", "x", "d"]
    },
    "EC/P-256": {
      alg: "ES256", importParams: { name: "ECDSA", namedCurve: "P-256" },
      signParams: { name: "ECDSA", hash: "SHA-256" },
      thumbprintMembers: ["crv", "kty", "x", "y"], privateMembers: ["kty", "crv", "x", "y", "d"]
    }
  };

  async function supported(params) {
    if (!subtle) { return false; }
    try {
      await subtle.generateKey(params, false, ["sign", "verify"]);
      return true;
    } catch (e) {
      return false;
    }
  }

  function pick(obj, names) {
    var out = {};
    names.forEach(function (n) {
      if (typeof obj[n] !== "string") { throw new Error("the key file has no '" + n + "'"); }
      out[n] = obj[n];
    });
    return out;
  }

  // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
  async function thumbprint(jwk, members) {
    var json = "{" + members.map(function (m) { return JSON.stringify(m) + ":" + JSON.stringify(jwk[m]); }).join(",") + "}";
    return b64url(new Uint8Array(await subtle.digest("SHA-256", enc.encode(json))));
  }

  function utcNow() {
    return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  function defaultId(issuer) {
    var now = new Date();
    var serial = "ACK" + now.toISOString().replace(/[-:T]/g, "").slice(0, 14) +
      "." + Math.floor(Math.random() * 1e6).toString(36).toUpperCase();
    return issuer + "-" + now.getUTCFullYear() + "-" + serial;
  }

  // Sign a JWS signing input with a private JWK: the base64url signature, the key's kid and alg.
  async function signWith(jwk, input) {
    var family = FAMILIES[jwk.kty + "/" + jwk.crv];
    if (!family) { throw new Error("this key is neither Ed25519 nor P-256"); }
    if (!jwk.d) { throw new Error("this is a public key: choose the private key file"); }
    var key = await subtle.importKey("jwk", pick(jwk, family.privateMembers), family.importParams, false, ["sign"]);
    var signature = new Uint8Array(await subtle.sign(family.signParams, key, enc.encode(input)));
    return { signature: b64url(signature), kid: await thumbprint(jwk, family.thumbprintMembers), alg: family.alg };
  }

  async function signAcknowledgement(form, keyFile, id) {
    var jwk = JSON.parse(await keyFile.text());
    var family = FAMILIES[jwk.kty + "/" + jwk.crv];
    if (!family) { throw new Error("this key is neither Ed25519 nor P-256"); }
    var kid = await thumbprint(jwk, family.thumbprintMembers);
    var payload = {
      type: "acknowledgement",
      id: id,
      issuer: form.getAttribute("data-issuer"),
      issued_at: utcNow(),
      regime: form.getAttribute("data-regime"),
      recipients: JSON.parse(form.getAttribute("data-recipients")),
      references: form.getAttribute("data-references")
    };
    var header = { alg: family.alg, kid: kid, typ: "lnx+json" };
    var input = b64url(enc.encode(JSON.stringify(header))) + "." + b64url(enc.encode(JSON.stringify(payload)));
    var signed = await signWith(jwk, input);
    return { jws: input + "." + signed.signature, kid: kid };
  }

  async function init(form) {
    var status = form.querySelector("#ack-status");
    var webcrypto = form.querySelector("#webcrypto");
    var unavailable = form.querySelector("#webcrypto-unavailable");
    var textarea = form.querySelector("#ack-jws");
    var jwsFile = form.querySelector("#ack-jws-file");
    jwsFile.addEventListener("change", function () {
      if (!jwsFile.files.length) { return; }
      jwsFile.files[0].text().then(function (text) { textarea.value = text.trim(); });
    });

    var canEd25519 = await supported({ name: "Ed25519" });
    var canP256 = await supported({ name: "ECDSA", namedCurve: "P-256" });
    if (!canEd25519 && !canP256) {
      webcrypto.hidden = true;
      unavailable.hidden = false;
      form.setAttribute("data-webcrypto", "unavailable");
      return;
    }
    form.setAttribute("data-webcrypto", canEd25519 ? "ed25519" : "p256");
    webcrypto.hidden = false;
    var idInput = form.querySelector("#ack-id");
    idInput.value = defaultId(form.getAttribute("data-issuer"));
    var keyInput = form.querySelector("#ack-key");
    form.querySelector("#ack-sign").addEventListener("click", function () {
      if (!keyInput.files.length) { status.textContent = "Choose your private key file first."; return; }
      if (!idInput.checkValidity()) { status.textContent = "The id must look like " + idInput.getAttribute("pattern"); return; }
      status.textContent = "Signing…";
      var keyFile = keyInput.files[0];
      keyInput.value = ""; // drop the key file from the form as soon as it has been read
      signAcknowledgement(form, keyFile, idInput.value).then(function (signed) {
        textarea.value = signed.jws;
        status.textContent = "Signed with key " + signed.kid + "; sending…";
        form.submit();
      }).catch(function (err) {
        status.textContent = "Could not sign: " + err.message;
      });
    });
  }

  window.lnxSign = { thumbprint: thumbprint, signWith: signWith, FAMILIES: FAMILIES };
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("ack-form");
    if (form) { init(form); }
  });
})();
