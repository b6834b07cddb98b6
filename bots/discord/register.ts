/**
 * `npm run discord:register [-- --guild <id>]`: registers /clausewatch with Discord through
 * discord.js REST, globally (takes up to an hour to appear) or in one server (at once).
 */
import { REST } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import { loadConfig } from '../../src/config.js';
import { parseCli } from '../../src/cli/args.js';
import { clausewatchCommand } from './commands.js';

const { values } = parseCli({
  name: 'discord:register',
  usage: `usage: npm run discord:register [-- --guild <id>]

Registers the /clausewatch command with Discord (DISCORD_APPLICATION_ID, DISCORD_PUBLIC_KEY and
DISCORD_BOT_TOKEN must be set): globally, which takes up to an hour to appear, or in one server.

      --guild <id>  register in this server only (appears at once)`,
  options: { guild: { type: 'string' } },
});
const config = loadConfig(process.env);
if (!config.discord) {
  console.error('discord:register: set DISCORD_APPLICATION_ID, DISCORD_PUBLIC_KEY and DISCORD_BOT_TOKEN');
  process.exit(1);
}
const rest = new REST({ version: '10', ...(config.discord.apiUrl ? { api: config.discord.apiUrl } : {}) }).setToken(config.discord.botToken);
const route = values.guild
  ? Routes.applicationGuildCommands(config.discord.applicationId, values.guild)
  : Routes.applicationCommands(config.discord.applicationId);
await rest.put(route, { body: [clausewatchCommand.toJSON()] });
console.log(`registered /clausewatch ${values.guild ? `in server ${values.guild}` : 'globally'}`);
