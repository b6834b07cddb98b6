import { SlashCommandBuilder } from '@discordjs/builders';

/**
 * /clausewatch and its sub-commands, as the contract names them. Registered with
 * `npm run discord:register` (global, or one server with --guild <id>).
 */
export const clausewatchCommand = new SlashCommandBuilder()
  .setName('clausewatch')
  .setDescription('Watch platforms’ terms, privacy and usage-policy changes in this channel')
  .addSubcommand((s) =>
    s
      .setName('subscribe')
      .setDescription('This channel gets a platform’s changes')
      .addStringOption((o) => o.setName('platform').setDescription('Platform slug, e.g. openai').setRequired(true).setAutocomplete(true))
      .addStringOption((o) =>
        o
          .setName('min_severity')
          .setDescription('Only changes at least this severe')
          .addChoices({ name: 'low (every change)', value: 'low' }, { name: 'medium', value: 'medium' }, { name: 'high', value: 'high' }),
      ),
  )
  .addSubcommand((s) =>
    s
      .setName('unsubscribe')
      .setDescription('Stop a platform’s changes in this channel')
      .addStringOption((o) => o.setName('platform').setDescription('Platform slug').setRequired(true).setAutocomplete(true)),
  )
  .addSubcommand((s) => s.setName('list').setDescription('What this channel watches, and the plan usage'))
  .addSubcommand((s) =>
    s
      .setName('platforms')
      .setDescription('Find a platform’s slug')
      .addStringOption((o) => o.setName('search').setDescription('Part of a name, e.g. open')),
  )
  .addSubcommand((s) => s.setName('plan').setDescription('Plan, limits, and what an upgrade adds'))
  .addSubcommand((s) => s.setName('help').setDescription('How to use ClauseWatch'));
