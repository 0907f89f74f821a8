//! The simulator's configuration file, `sim.json`, written by `shoukuan keys dev` next to the
//! worker's `.dev.vars`: everything the simulator needs to play WeChat Pay and the Official
//! Account platform against a locally running worker. Development data only.

use serde::{Deserialize, Serialize};

use super::aead::{AeadError, ApiV3Key};
use super::keys::{Certificate, KeyError, PrivateKey, PublicKey};
use super::verify::KeySet;

/// Current value of [`SimConfig::version`].
pub const SIM_CONFIG_VERSION: u32 = 1;

/// Official Account credentials shared by the worker and the simulator.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOfficialAccount {
    /// `wx` + 16 hex characters.
    pub appid: String,
    /// 32 hex characters.
    pub appsecret: String,
    /// The server-configuration token (signs pushes).
    pub token: String,
    /// The 43-character EncodingAESKey (safe mode).
    pub encoding_aes_key: String,
}

/// A sub-merchant (特约商户) registered under the simulated service provider: partner endpoints
/// accept its `sub_mchid` when the signing merchant is the service provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimSubMerchant {
    /// `sub_mchid`, 10 digits.
    pub sub_mchid: String,
    /// Its registered name (a receiver `name` of type MERCHANT_ID must match it).
    pub name: String,
    /// Whether it may use H5 pay (individual businesses and 小微 may not).
    #[serde(default)]
    pub h5: bool,
    /// The profit-sharing ratio it authorised the service provider, in 1/10 000 (0 = none),
    /// as `GET /v3/profitsharing/merchant-configs/{sub_mchid}` answers.
    #[serde(default)]
    pub max_ratio: u32,
}

/// `sim.json`. Its `Debug` shows ids only, never keys.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimConfig {
    /// File format version, [`SIM_CONFIG_VERSION`].
    pub version: u32,
    /// Merchant id.
    pub mchid: String,
    /// AppID used for payments (the Official Account's).
    pub appid: String,
    /// Serial of the merchant API certificate, expected in the merchant's `Authorization`.
    pub merchant_serial: String,
    /// The merchant's public key (SPKI PEM), to verify its `Authorization` signatures.
    pub merchant_public_key_pem: String,
    /// Serial of the platform certificate (upper-case hex).
    pub platform_serial: String,
    /// The platform certificate (X.509 PEM).
    pub platform_certificate_pem: String,
    /// The platform certificate's private key (PKCS#8 PEM), to sign as WeChat Pay.
    pub platform_private_key_pem: String,
    /// `PUB_KEY_ID_…` of the WeChat Pay public key.
    pub public_key_id: String,
    /// The WeChat Pay public key (SPKI PEM).
    pub public_key_pem: String,
    /// Its private key (PKCS#8 PEM), to sign as WeChat Pay in public-key mode.
    pub public_key_private_key_pem: String,
    /// The 32-character APIv3 key.
    pub apiv3_key: String,
    /// Official Account credentials.
    pub official_account: SimOfficialAccount,
    /// Sub-merchants of the service provider `mchid` (platform model; empty for own business).
    #[serde(default)]
    pub sub_merchants: Vec<SimSubMerchant>,
    /// Full legal name of the merchant (the service provider in the platform model).
    #[serde(default)]
    pub merchant_name: String,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("merchant_serial", &self.merchant_serial)
            .field("platform_serial", &self.platform_serial)
            .field("public_key_id", &self.public_key_id)
            .field("official_account.appid", &self.official_account.appid)
            .field("sub_merchants", &self.sub_merchants)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SimOfficialAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOfficialAccount")
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

impl SimConfig {
    /// The merchant's public key.
    pub fn merchant_public_key(&self) -> Result<PublicKey, KeyError> {
        PublicKey::from_pem(&self.merchant_public_key_pem)
    }

    /// The platform certificate.
    pub fn platform_certificate(&self) -> Result<Certificate, KeyError> {
        Certificate::from_pem(&self.platform_certificate_pem)
    }

    /// The key that signs as the platform certificate.
    pub fn platform_signer(&self) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_pem(&self.platform_private_key_pem)
    }

    /// The key that signs as the WeChat Pay public key.
    pub fn public_key_signer(&self) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_pem(&self.public_key_private_key_pem)
    }

    /// Both verification keys, as the worker would configure them.
    pub fn key_set(&self) -> Result<KeySet, KeyError> {
        let mut keys = KeySet::new();
        keys.add_certificate(&self.platform_certificate()?);
        keys.add_public_key(
            &self.public_key_id,
            PublicKey::from_pem(&self.public_key_pem)?,
        );
        Ok(keys)
    }

    /// The APIv3 key.
    pub fn apiv3_key(&self) -> Result<ApiV3Key, AeadError> {
        ApiV3Key::new(self.apiv3_key.as_bytes())
    }
}
