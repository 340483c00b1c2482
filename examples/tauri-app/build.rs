//! Puts the plugin's built guest-js (`sdk/tauri/dist-js/index.js`) into `ui/vendor/` for the
//! webview, its `@tauri-apps/api` imports pointed at the small shims in `ui/tauri-api/` (the app
//! uses no bundler; `withGlobalTauri` provides the API), then runs `tauri-build`.

use std::path::Path;

fn main() {
    let dist = Path::new("../../sdk/tauri/dist-js/index.js");
    println!("cargo:rerun-if-changed={}", dist.display());
    let js = match std::fs::read_to_string(dist) {
        Ok(js) => js,
        Err(e) => {
            println!("cargo::error=cannot read {}: {e}", dist.display());
            return;
        }
    };
    let js = js
        .replace("\"@tauri-apps/api/core\"", "\"../tauri-api/core.js\"")
        .replace("'@tauri-apps/api/core'", "'../tauri-api/core.js'")
        .replace("\"@tauri-apps/api/event\"", "\"../tauri-api/event.js\"")
        .replace("'@tauri-apps/api/event'", "'../tauri-api/event.js'");
    let out = Path::new("ui/vendor/latchkey.js");
    let unchanged = std::fs::read_to_string(out).is_ok_and(|old| old == js);
    if !unchanged {
        if let Err(e) = std::fs::create_dir_all("ui/vendor").and_then(|()| std::fs::write(out, js))
        {
            println!("cargo::error=cannot write {}: {e}", out.display());
            return;
        }
    }
    tauri_build::build()
}
