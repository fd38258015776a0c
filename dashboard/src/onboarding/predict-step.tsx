import { MeridianClient, type OipResponse, predict, type Schema } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';
import { draftsFor, type InputDraft, tensorsFrom } from '../lib/tensor-form';
import { TensorInput } from './tensor-input';

/** A form generated from the signature; the prediction goes from this browser to the edge with the API key. */
export function PredictStep(props: {
  deployment: Schema<'Deployment'>;
  signature: Schema<'OnnxSignature'>;
  apiKey: string;
}) {
  const { config } = useApp();
  const inputs = props.signature?.inputs ?? [];
  const [drafts, setDrafts] = useState<Record<string, InputDraft>>(() => draftsFor(inputs));
  const [apiKey, setApiKey] = useState(props.apiKey);
  const [answer, setAnswer] = useState<OipResponse>();
  const [invalid, setInvalid] = useState<string>();
  const send = useAction(async () => {
    setAnswer(undefined);
    const tensors = tensorsFrom(inputs, drafts);
    if (typeof tensors === 'string') {
      setInvalid(tensors);
      return;
    }
    setInvalid(undefined);
    const client = new MeridianClient({ baseUrl: config.apiUrl, edgeUrl: config.edgeUrl, apiKey });
    setAnswer(await predict(client, props.deployment.name, tensors));
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void send.run();
  };
  if (!props.signature)
    return <p>This model has no signature to build a form from; use the snippets below.</p>;
  return (
    <form onSubmit={submit} className="stack" aria-label="Test prediction">
      <Field label="API key">
        <input
          type="password"
          value={apiKey}
          onChange={(e) => setApiKey(e.target.value)}
          autoComplete="off"
        />
      </Field>
      {inputs.map((spec) => (
        <TensorInput
          key={spec.name}
          spec={spec}
          draft={drafts[spec.name] as InputDraft}
          onChange={(draft) => setDrafts({ ...drafts, [spec.name]: draft })}
        />
      ))}
      {invalid ? (
        <p className="error" role="alert">
          {invalid}
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={send.busy}>
        {send.busy ? 'Predicting…' : 'Predict'}
      </button>
      <ErrorMessage error={send.error} />
      {answer ? (
        <section aria-label="Prediction">
          <h3>Answer from {config.edgeUrl}</h3>
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
          <pre data-testid="prediction-output" tabIndex={0}>
            {JSON.stringify(answer.outputs, null, 2)}
          </pre>
        </section>
      ) : null}
    </form>
  );
}
