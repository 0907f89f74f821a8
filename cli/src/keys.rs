//! `shoukuan keys dev`: fresh development credentials for the whole WeChat side — a merchant key
//! pair, a real self-signed platform certificate, a WeChat Pay public key, the APIv3 key and the
//! Official Account secrets — written as the worker's `.dev.vars` and the simulator's `sim.json`.
//! Everything is random on every run; nothing here is fit for production.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use clap::Subcommand;
use rand::RngCore as _;
use rsa::RsaPrivateKey;
use shoukuan_core::wechatpay::devkeys::{
    SimConfig, SimOfficialAccount, SimSubMerchant, SIM_CONFIG_VERSION,
};
use shoukuan_core::wechatpay::{Certificate, PrivateKey, PUBLIC_KEY_ID_PREFIX};

use crate::{random_string, Outcome, Run};

/// Where the simulator listens by default; the worker's WeChat base URLs point there in dev.
const SIMULATOR_URL: &str = "http://127.0.0.1:8788";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write DIR/.dev.vars (worker) and DIR/sim.json (simulator) with fresh random dev keys.
    Dev {
        /// Directory to write into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Overwrite an existing .dev.vars.
        #[arg(long)]
        force: bool,
        /// The deployment model to configure: `own_business` (a direct merchant) or `platform`
        /// (a service provider with two demo sub-merchants registered in sim.json).
        #[arg(long, value_enum, default_value = "own_business")]
        model: Model,
    },
}

/// `WECHATPAY_MODEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Model {
    /// The operator is the seller: one direct merchant.
    #[value(name = "own_business")]
    OwnBusiness,
    /// The operator is a service provider (服务商); payees are its sub-merchants.
    #[value(name = "platform")]
    Platform,
}

impl Model {
    fn as_str(self) -> &'static str {
        match self {
            Model::OwnBusiness => "own_business",
            Model::Platform => "platform",
        }
    }
}

/// Demo names (development data).
const DEMO_MERCHANT_NAME: &str = "收款示例商店";
const DEMO_SP_NAME: &str = "收款示例科技有限公司";
const DEMO_SUB_MERCHANTS: [(&str, bool); 2] = [("示例书店有限公司", true), ("示例花店", false)];
/// The ratio the demo sub-merchants authorise the service provider: 30 %.
const DEMO_MAX_RATIO: u32 = 3000;

impl Run for Command {
    fn run(self) -> anyhow::Result<Outcome> {
        match self {
            Command::Dev { out, force, model } => dev(&out, force, model),
        }
    }
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX_LOWER: &[u8] = b"0123456789abcdef";
const DIGITS: &[u8] = b"0123456789";

/// Everything generated, before it is written.
struct DevKeys {
    sim: SimConfig,
    model: Model,
    merchant_private_key_pem: String,
    data_key: String,
    session_secret: String,
    receipt_signing_key_pem: String,
}

fn rsa_2048() -> anyhow::Result<PrivateKey> {
    let key =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).context("RSA key generation failed")?;
    Ok(PrivateKey::from(key))
}

fn random_b64_32() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A 20-byte serial: 40 upper-case hex digits, first byte 0x10..=0x7F so the DER integer is
/// positive and needs no leading zero (WeChat serials are 40 hex digits).
fn serial_bytes() -> [u8; 20] {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes[0] = 0x10 + bytes[0] % 0x70;
    bytes
}

/// A self-signed RSA-2048 certificate for `key`, with `serial`, valid from yesterday for 5 years.
fn platform_certificate(key: &PrivateKey, serial: &[u8]) -> anyhow::Result<String> {
    let key_pair = rcgen::KeyPair::from_pem(&key.to_pkcs8_pem()?)
        .map_err(|e| anyhow!("cannot load the platform key into rcgen: {e}"))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| anyhow!("certificate parameters: {e}"))?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(
        rcgen::DnType::CommonName,
        "Shoukuan dev WeChat Pay platform certificate",
    );
    name.push(
        rcgen::DnType::OrganizationName,
        "Shoukuan development (not Tenpay)",
    );
    name.push(rcgen::DnType::CountryName, "CN");
    params.distinguished_name = name;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(5 * 365);
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| anyhow!("cannot self-sign the platform certificate: {e}"))?;
    Ok(certificate.pem())
}

/// A platform key with its self-signed certificate, as WeChat Pay would issue one.
pub(crate) struct PlatformCertificate {
    /// The key that signs as this certificate.
    pub key: PrivateKey,
    /// The X.509 certificate (PEM).
    pub pem: String,
    /// Its serial, upper-case hex.
    pub serial: String,
}

/// A fresh platform key and certificate: `keys dev` makes the first, the simulator's
/// certificate rotation makes the next ones.
pub(crate) fn new_platform_certificate() -> anyhow::Result<PlatformCertificate> {
    let key = rsa_2048()?;
    let pem = platform_certificate(&key, &serial_bytes())?;
    // Read the serial back the way the worker will, so the two can never disagree.
    let serial = Certificate::from_pem(&pem)?.serial().to_string();
    Ok(PlatformCertificate { key, pem, serial })
}

fn generate(model: Model) -> anyhow::Result<DevKeys> {
    let merchant = rsa_2048()?;
    let PlatformCertificate {
        key: platform,
        pem: platform_certificate_pem,
        serial: platform_serial,
    } = new_platform_certificate()?;
    let wechatpay_key = rsa_2048()?;

    let appid = format!("wx{}", random_string(HEX_LOWER, 16));
    let sim = SimConfig {
        version: SIM_CONFIG_VERSION,
        mchid: format!("1{}", random_string(DIGITS, 9)),
        appid: appid.clone(),
        merchant_serial: hex::encode_upper(serial_bytes()),
        merchant_public_key_pem: merchant.public_key().to_pem(),
        platform_serial,
        platform_certificate_pem,
        platform_private_key_pem: platform.to_pkcs8_pem()?,
        public_key_id: format!("{PUBLIC_KEY_ID_PREFIX}{}", random_string(DIGITS, 32)),
        public_key_pem: wechatpay_key.public_key().to_pem(),
        public_key_private_key_pem: wechatpay_key.to_pkcs8_pem()?,
        apiv3_key: random_string(ALNUM, 32),
        official_account: SimOfficialAccount {
            appid,
            appsecret: random_string(HEX_LOWER, 32),
            token: random_string(ALNUM, 32),
            encoding_aes_key: random_string(ALNUM, 43),
        },
        sub_merchants: match model {
            Model::OwnBusiness => Vec::new(),
            // A company may use H5; an individual business (个体户) may not.
            Model::Platform => DEMO_SUB_MERCHANTS
                .iter()
                .map(|(name, h5)| SimSubMerchant {
                    sub_mchid: format!("1{}", random_string(DIGITS, 9)),
                    name: name.to_string(),
                    h5: *h5,
                    max_ratio: DEMO_MAX_RATIO,
                })
                .collect(),
        },
        merchant_name: match model {
            Model::OwnBusiness => DEMO_MERCHANT_NAME,
            Model::Platform => DEMO_SP_NAME,
        }
        .to_string(),
    };
    Ok(DevKeys {
        sim,
        model,
        merchant_private_key_pem: merchant.to_pkcs8_pem()?,
        data_key: random_b64_32(),
        session_secret: random_b64_32(),
        receipt_signing_key_pem: rsa_2048()?.to_pkcs8_pem()?,
    })
}

/// A dotenv value on one line: PEMs in double quotes with `\n` escapes.
fn dotenv_pem(pem: &str) -> String {
    format!("\"{}\"", pem.trim_end().replace('\n', "\\n"))
}

/// The worker's `.dev.vars`: exactly the keys the worker reads.
fn dev_vars(keys: &DevKeys) -> String {
    let sim = &keys.sim;
    let mut entries: Vec<(&str, String)> = vec![
        ("WECHATPAY_MCHID", sim.mchid.clone()),
        ("WECHATPAY_APPID", sim.appid.clone()),
        ("WECHATPAY_MCH_SERIAL", sim.merchant_serial.clone()),
        (
            "WECHATPAY_MCH_PRIVATE_KEY",
            dotenv_pem(&keys.merchant_private_key_pem),
        ),
        ("WECHATPAY_APIV3_KEY", sim.apiv3_key.clone()),
        ("WECHATPAY_PUBLIC_KEY_ID", sim.public_key_id.clone()),
        ("WECHATPAY_PUBLIC_KEY", dotenv_pem(&sim.public_key_pem)),
        ("WECHATPAY_MODEL", keys.model.as_str().to_string()),
        ("WECHATPAY_MERCHANT_NAME", sim.merchant_name.clone()),
        ("WECHAT_APPID", sim.official_account.appid.clone()),
        ("WECHAT_APPSECRET", sim.official_account.appsecret.clone()),
        ("WECHAT_TOKEN", sim.official_account.token.clone()),
        (
            "WECHAT_AES_KEY",
            sim.official_account.encoding_aes_key.clone(),
        ),
        // Payee notices (template messages); the simulator takes any template id and checks
        // the typed keyword values as WeChat does. Split reminders stay off until a
        // WECHAT_REMINDER_TEMPLATE_ID is added.
        (
            "WECHAT_NOTICE_TEMPLATE_ID",
            "sim-notice-template".to_string(),
        ),
        ("DATA_KEY", keys.data_key.clone()),
        ("SESSION_SECRET", keys.session_secret.clone()),
        // Signs electronic receipts (电子回单); its public key is listed by the worker.
        (
            "RECEIPT_SIGNING_KEY",
            dotenv_pem(&keys.receipt_signing_key_pem),
        ),
        // The operator API (`shoukuan payees|menu` read it from this file).
        ("OPERATOR_SECRET", random_string(ALNUM, 32)),
        ("PUBLISH_INVITE_CODE", String::new()),
        // Local runs: anyone may publish from any browser. Production (with an Official
        // Account) defaults to `payees`: approved payees signed in through WeChat.
        ("PUBLISH_ACCESS", "invite".to_string()),
        // Marks the deployment as a local run: without it, invite mode with no invite code
        // refuses to publish (the worker also requires a loopback host).
        ("LOCAL_DEV", "1".to_string()),
        ("WECHATPAY_BASE_URL", SIMULATOR_URL.to_string()),
        ("WECHAT_API_BASE_URL", SIMULATOR_URL.to_string()),
        ("WECHAT_OPEN_BASE_URL", SIMULATOR_URL.to_string()),
    ];
    if keys.model == Model::Platform {
        let at = entries
            .iter()
            .position(|(name, _)| *name == "WECHATPAY_MERCHANT_NAME")
            .map_or(entries.len(), |i| i + 1);
        entries.splice(
            at..at,
            [
                ("WECHATPAY_SP_NAME", sim.merchant_name.clone()),
                ("WECHATPAY_PLATFORM_FEE_BPS", "0".to_string()),
            ],
        );
    }
    let mut out = String::from(
        "# Generated by `shoukuan keys dev`: random DEVELOPMENT data, NOT for production.\n\
         # Every key below is fresh and matches sim.json beside it (the WeChat simulator's keys).\n\
         # Regenerate with `shoukuan keys dev --force`; see .dev.vars.example for what each key is.\n",
    );
    for (name, value) in entries {
        out.push_str(&format!("{name}={value}\n"));
    }
    out
}

/// Writes a file readable by its owner only (it holds secrets).
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, contents.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn dev(out: &Path, force: bool, model: Model) -> anyhow::Result<Outcome> {
    let dev_vars_path = out.join(".dev.vars");
    if dev_vars_path.exists() && !force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            dev_vars_path.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let keys = generate(model)?;
    let sim_path = out.join("sim.json");
    write_private(
        &sim_path,
        &(serde_json::to_string_pretty(&keys.sim)? + "\n"),
    )?;
    write_private(&dev_vars_path, &dev_vars(&keys))?;
    let sim = &keys.sim;
    let mut summary = format!(
        "wrote {} and {} ({} model)\nmchid {}, merchant serial {}, platform serial {}, {}, appid {}",
        dev_vars_path.display(),
        sim_path.display(),
        model.as_str(),
        sim.mchid,
        sim.merchant_serial,
        sim.platform_serial,
        sim.public_key_id,
        sim.appid
    );
    for sub in &sim.sub_merchants {
        summary.push_str(&format!(
            "\nsub-merchant {} {}{}",
            sub.sub_mchid,
            sub.name,
            if sub.h5 { " (H5)" } else { "" }
        ));
    }
    Ok(Outcome::ok(summary))
}
