//! Debian Chromium through chromedriver, as a phone in WeChat (375×812) or a desktop browser.

use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};
use thirtyfour::prelude::*;
use thirtyfour::ChromiumLikeCapabilities;

use crate::{free_port, kill_group, spawn_guarded};

/// WeChat 8 on an iPhone, as its in-app browser identifies itself.
pub const WECHAT_IOS_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323a) NetType/WIFI Language/zh_CN";

/// Chrome on a Linux desktop.
pub const DESKTOP_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/// A browser session; dropping it ends chromedriver and Chromium.
pub struct Browser {
    /// The WebDriver session.
    pub driver: WebDriver,
    chromedriver: std::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A phone inside WeChat: 375×812 CSS px at 2× with WeChat's user agent.
    pub async fn wechat() -> Result<Browser> {
        Self::start(Some(WECHAT_IOS_UA), true).await
    }

    /// A phone inside WeChat whose browser runs no page JavaScript at all (an old kernel, or
    /// scripts switched off): Chromium's JavaScript content setting is "block". WebDriver
    /// itself still works (finding, typing, clicking).
    pub async fn wechat_without_javascript() -> Result<Browser> {
        Self::start(Some(WECHAT_IOS_UA), false).await
    }

    /// A desktop browser (1280×900).
    pub async fn desktop() -> Result<Browser> {
        Self::start(None, true).await
    }

    async fn start(mobile_ua: Option<&str>, javascript: bool) -> Result<Browser> {
        let profile = tempfile::Builder::new()
            .prefix("shoukuan-chromium-")
            .tempdir()?;
        let port = free_port();
        let chromedriver = spawn_guarded(
            std::path::Path::new("/usr/bin/chromedriver"),
            &[format!("--port={port}").into()],
            &[],
            &profile.path().join("chromedriver.log"),
        )?;
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium")?;
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ] {
            caps.add_arg(arg)?;
        }
        caps.add_arg(&format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))?;
        if !javascript {
            caps.add_experimental_option(
                "prefs",
                json!({ "profile.managed_default_content_settings.javascript": 2 }),
            )?;
        }
        match mobile_ua {
            Some(ua) => caps.add_experimental_option(
                "mobileEmulation",
                json!({
                    "deviceMetrics": { "width": 375, "height": 812, "pixelRatio": 2.0, "mobile": true, "touch": true },
                    "userAgent": ua
                }),
            )?,
            None => {
                caps.add_arg(&format!("--user-agent={DESKTOP_UA}"))?;
                caps.add_arg("--window-size=1280,900")?;
            }
        }
        let url = format!("http://127.0.0.1:{port}");
        let mut last_err = None;
        for _ in 0..50 {
            match WebDriver::new(&url, caps.clone()).await {
                Ok(driver) => {
                    driver
                        .set_implicit_wait_timeout(Duration::from_secs(0))
                        .await?;
                    return Ok(Browser {
                        driver,
                        chromedriver,
                        _profile: profile,
                    });
                }
                Err(e) => {
                    last_err = Some(e);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Err(last_err
            .map(anyhow::Error::from)
            .unwrap_or_else(|| anyhow::anyhow!("chromedriver did not start")))
    }

    /// Waits (up to 20 s) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Result<WebElement> {
        self.driver
            .query(By::Css(css))
            .wait(Duration::from_secs(20), Duration::from_millis(100))
            .first()
            .await
            .with_context(|| format!("waiting for {css}"))
    }

    /// A screenshot of the whole page (beyond the viewport), as PNG bytes.
    pub async fn full_screenshot(&self) -> Result<Vec<u8>> {
        let cdp = self.driver.cdp();
        let metrics: Value = cdp.send_raw("Page.getLayoutMetrics", json!({})).await?;
        let size = &metrics["cssContentSize"];
        let (w, h) = (
            size["width"].as_f64().unwrap_or(375.0),
            size["height"].as_f64().unwrap_or(812.0),
        );
        let shot: Value = cdp
            .send_raw(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true,
                        "clip": { "x": 0, "y": 0, "width": w, "height": h, "scale": 1 } }),
            )
            .await?;
        let data = shot["data"].as_str().context("no screenshot data")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(data)?)
    }

    /// Runs JavaScript and returns its JSON value.
    pub async fn eval(&self, script: &str) -> Result<Value> {
        Ok(self.driver.execute(script, vec![]).await?.json().clone())
    }

    /// Ends the session.
    pub async fn quit(mut self) -> Result<()> {
        let driver = self.driver.clone();
        let _ = driver.quit().await;
        kill_group(&mut self.chromedriver);
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.chromedriver);
    }
}
