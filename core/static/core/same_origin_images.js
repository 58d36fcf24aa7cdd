// Loaded before a bundled third-party page (ReDoc) starts: an <img> may only load from this
// server. ReDoc's footer points its logo at a CDN; the image is left blank instead, so the
// browser never contacts another host (the docs work offline, and leak no visit).
(function () {
  "use strict";
  function local(value) {
    try {
      var url = new URL(String(value), document.baseURI);
      return url.origin === window.location.origin || url.protocol === "data:";
    } catch (error) {
      return false;
    }
  }
  var proto = window.HTMLImageElement.prototype;
  var src = Object.getOwnPropertyDescriptor(proto, "src");
  Object.defineProperty(proto, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: function () { return src.get.call(this); },
    set: function (value) { if (local(value)) { src.set.call(this, value); } },
  });
  var setAttribute = window.Element.prototype.setAttribute;
  window.Element.prototype.setAttribute = function (name, value) {
    if (this instanceof window.HTMLImageElement && /^(src|srcset)$/i.test(name) && !local(value)) {
      return undefined;
    }
    return setAttribute.call(this, name, value);
  };
})();
