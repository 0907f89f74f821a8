//! Entry point of the main bundle (home, the poster, not found): Trunk builds this binary from
//! `index.html`; the payee pages have their own bundles (`src/bin/`, see `bundle`).

fn main() {
    shoukuan_app::start(shoukuan_app::bundle::main);
}
