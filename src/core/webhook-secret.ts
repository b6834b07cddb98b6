/** A Standard Webhooks secret: `whsec_` and 24 random bytes in base64, as the spec's libraries expect. */
export function newWebhookSecret(): string {
  const raw = crypto.getRandomValues(new Uint8Array(24));
  let bin = '';
  for (const b of raw) bin += String.fromCharCode(b);
  return `whsec_${btoa(bin)}`;
}
