import { generateKeyPairSync, sign } from 'node:crypto';

/** A locally generated Ed25519 application key pair, signing interactions as Discord does. */
export function discordKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const rawPublic = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  return {
    publicKeyHex: rawPublic,
    headers(body: string, timestamp = String(Math.floor(Date.now() / 1000))) {
      const signature = sign(null, Buffer.from(timestamp + body), privateKey).toString('hex');
      return { 'x-signature-ed25519': signature, 'x-signature-timestamp': timestamp, 'content-type': 'application/json' };
    },
  };
}

export const GUILD = '123456789012345678';
export const CHANNEL = '223456789012345678';
export const MANAGE_GUILD = String(1n << 5n);

export function slash(sub: string, options: { name: string; value: string; focused?: boolean }[] = [], permissions = MANAGE_GUILD, type = 2) {
  return {
    id: '1',
    application_id: '999',
    type,
    token: 'interaction-token',
    version: 1,
    guild_id: GUILD,
    channel_id: CHANNEL,
    channel: { id: CHANNEL, type: 0 },
    member: { permissions, user: { id: '42', username: 'ana' }, roles: [] },
    data: { id: '5', name: 'clausewatch', type: 1, options: [{ name: sub, type: 1, options: options.map((o) => ({ ...o, type: 3 })) }] },
  };
}
