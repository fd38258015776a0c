import type { Schema } from '@meridian/sdk';
import { useApp } from '../api/context';
import { CodeBlock } from '../components/code-block';
import { snippetsFor } from '../lib/snippets';

export function Snippets(props: { deployment: Schema<'Deployment'>; signature: Schema<'OnnxSignature'> }) {
  const { config } = useApp();
  const snippets = snippetsFor(config.edgeUrl, props.deployment.name, props.signature);
  return (
    <div className="stack">
      <p>
        Set <code>MERIDIAN_API_KEY</code> to your key first.
      </p>
      <CodeBlock title="curl" code={snippets.curl} />
      <CodeBlock title="Meridian CLI" code={snippets.cli} />
      <CodeBlock title="Python (tritonclient)" code={snippets.python} />
    </div>
  );
}
