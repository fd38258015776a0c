import type { Schema } from '@meridian/sdk';
import { shapeText } from '../lib/format';
import { TableWrap } from './table-wrap';

type Signature = Schema<'OnnxSignature'>;

/** A model's inputs and outputs as the control plane read them from the file. */
export function SignatureView({ signature }: { signature: Signature }) {
  if (!signature) return <p className="muted">No signature: this format is served by a container image.</p>;
  const rows = [
    ...signature.inputs.map((t) => ({ ...t, kind: 'input' })),
    ...signature.outputs.map((t) => ({ ...t, kind: 'output' })),
  ];
  return (
    <TableWrap label="Signature">
      <caption>
        Signature (opset {signature.opset ?? '—'}, IR {signature.irVersion ?? '—'})
      </caption>
      <thead>
        <tr>
          <th scope="col">Tensor</th>
          <th scope="col">Kind</th>
          <th scope="col">Type</th>
          <th scope="col">Shape</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((t) => (
          <tr key={`${t.kind}:${t.name}`}>
            <td>
              <code>{t.name}</code>
            </td>
            <td>{t.kind}</td>
            <td>{t.datatype}</td>
            <td>{shapeText(t.shape)}</td>
          </tr>
        ))}
      </tbody>
    </TableWrap>
  );
}
