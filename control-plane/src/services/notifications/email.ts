import nodemailer, { type Transporter } from 'nodemailer';
import type { AttemptResult } from './webhook.js';

/** SMTP settings (MERIDIAN_SMTP_*); e-mail channels fail their deliveries while none are set. */
export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user?: string;
  password?: string;
  from: string;
  timeoutMs: number;
}

/**
 * What a tenant reads when the SMTP server did not take a mail: never the server's own words, which name the
 * platform's mail hosts and relay policy (they go to the operator's log).
 */
export const MAIL_NOT_TAKEN =
  'the mail server did not take the mail; the platform operator can see why in its log';

/** Sends notification mail through one SMTP server with nodemailer. */
export class SmtpMailer {
  private readonly transport: Transporter;

  constructor(private readonly settings: SmtpSettings) {
    this.transport = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      ...(settings.user ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
    });
  }

  async send(to: string, subject: string, text: string): Promise<AttemptResult> {
    try {
      await this.transport.sendMail({ from: this.settings.from, to, subject, text });
      return { ok: true, httpStatus: null, error: null };
    } catch (error) {
      return {
        ok: false,
        httpStatus: null,
        error: `smtp: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  close(): void {
    this.transport.close();
  }
}
