//! Housekeeping of the abuse limits and of what they protect, run by the minute cron: old
//! counters, used OAuth states, and uploaded images no price page uses.

use worker::Env;

/// One pass; each step logs its own failure and the others still run.
pub async fn scheduled(env: &Env) {
    if let Err(e) = super::prune(env).await {
        worker::console_error!("abuse cron: pruning counters failed: {e:?}");
    }
    if let Err(e) = crate::oa::prune_used_states(env).await {
        worker::console_error!("abuse cron: pruning OAuth states failed: {e:?}");
    }
    match crate::products::delete_unused_images(env).await {
        Ok(0) => {}
        Ok(n) => worker::console_log!("abuse cron: deleted {n} unused images"),
        Err(e) => worker::console_error!("abuse cron: image cleanup failed: {e:?}"),
    }
}
