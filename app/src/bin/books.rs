//! The bundle of `/dash/books` (see `shoukuan_app::bundle`).

fn main() {
    shoukuan_app::start(shoukuan_app::bundle::books);
}
