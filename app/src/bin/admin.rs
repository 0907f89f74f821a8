//! The bundle of `/admin/:id` (see `shoukuan_app::bundle`).

fn main() {
    shoukuan_app::start(shoukuan_app::bundle::admin);
}
