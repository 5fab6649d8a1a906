// service worker: replaced by the PWA issue; version __STATIC_VERSION__
