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
