//! Entry point: Trunk builds this binary; everything else is in the library.

fn main() {
    shoukuan_app::start();
}
