//! The bundle of `/dash` (see `shoukuan_app::bundle`).

fn main() {
    shoukuan_app::start(shoukuan_app::bundle::dash);
}
