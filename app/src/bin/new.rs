//! The bundle of `/new` (see `shoukuan_app::bundle`).

fn main() {
    shoukuan_app::start(shoukuan_app::bundle::new);
}
