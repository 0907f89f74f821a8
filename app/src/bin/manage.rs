//! The bundle of `/manage/:id` (see `shoukuan_app::bundle`).

fn main() {
    shoukuan_app::start(shoukuan_app::bundle::manage);
}
