//! The KMS receipt signer against a KMS-compatible server on loopback (moto, started by
//! scripts/test): an ECC_NIST_P256 signing key signs a signature base, the DER answer
//! becomes RFC 9421's fixed `r || s`, and it verifies with the key's public half.

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use nutripro_shared::adapters::kms::{local_client, KmsReceiptSigner};
use nutripro_shared::ports::receipts::ReceiptSigner;

fn endpoint() -> String {
    std::env::var("NUTRIPRO_TEST_KMS_ENDPOINT").expect(
        "NUTRIPRO_TEST_KMS_ENDPOINT is not set: this test needs the moto server on loopback \
         that scripts/test starts (it serves KMS too)",
    )
}

#[tokio::test]
#[ignore = "needs a KMS-compatible server on loopback: run scripts/test"]
async fn a_kms_p256_key_signs_receipts_that_its_public_key_verifies() {
    let client = local_client(&endpoint());
    let key = client
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("nutripro receipt key (test)")
        .send()
        .await
        .expect("create the key");
    let arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let signer = KmsReceiptSigner::new(client.clone(), &arn);
    assert_eq!(signer.key_id(), key.key_metadata().unwrap().key_id());
    let public = signer.public_key().await.expect("public key");
    assert_eq!(public.len(), 65);
    for base in [&b"\"@status\": 201"[..], &[0u8; 3000][..]] {
        let signature = signer.sign(base).await.expect("signed");
        assert_eq!(signature.len(), 64);
        assert!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
                .verify(base, &signature)
                .is_ok(),
            "the receipt verifies with the published key"
        );
    }
    let missing = KmsReceiptSigner::new(
        client,
        "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
    )
    .sign(b"x")
    .await;
    assert!(missing.is_err(), "a key that does not exist is an error");
}
