import type { ReactNode } from 'react';

export function Step(props: {
  n: number;
  title: string;
  done?: boolean;
  locked?: boolean;
  children: ReactNode;
}) {
  return (
    <li className={`step${props.done ? ' done' : ''}${props.locked ? ' locked' : ''}`}>
      <h2>
        {props.n}. {props.title}
        {props.done ? <span className="badge badge-ok">done</span> : null}
      </h2>
      {props.locked ? <p className="muted">Finish the step above first.</p> : props.children}
    </li>
  );
}
