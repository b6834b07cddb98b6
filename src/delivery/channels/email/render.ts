import type { ContentKind, Renderers } from '../../channel.js';
import type { EmailTemplates } from '../../../render/template.js';
import { renderDigestEmail } from '../../../render/digest-email.js';
import { renderAlertEmail, renderConfirmationEmail, renderManageLinkEmail, type EmailMessage } from '../../../render/email.js';
import type { EmailDestination } from './destination.js';

/**
 * Content to mail, through the compiled templates: the Node SMTP sender and the Workers Email
 * Service sender are handed these same renderers, so both editions send the same mails. Email
 * shows every kind of content there is.
 */
export function emailRenderers(templates: EmailTemplates): Renderers<EmailDestination, EmailMessage, ContentKind> {
  return {
    alert: (content, destination) => [renderAlertEmail(templates, content, { address: destination.address, planLine: `on the ${content.plan} plan` })],
    confirmation: (content) => [renderConfirmationEmail(templates, content)],
    manage_link: (content) => [renderManageLinkEmail(templates, content)],
    // Each change's HTML is made once per time zone and quarter hour and shared (the dispatcher's
    // cache) by every digest that lists it, as a dry run does: the send path renders at the
    // benchmark's in-run cost, not from scratch.
    digest: (content, destination, ctx) => [renderDigestEmail(templates, content, { address: destination.address, planLine: `on the ${content.plan} plan`, cache: ctx.cache })],
  };
}
