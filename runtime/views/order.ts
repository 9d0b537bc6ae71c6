/**
 * The order views are created in: a view after the views it reads, since the engine
 * checks a view's query (and fixes its columns) when it is created. Views that read each
 * other in a circle can never be created; each circle is reported once per member.
 */
import type { ViewIR } from "../../conventions/views/ir.ts";

export interface ViewOrder {
  /** Every view that is not on a cycle, dependencies first. */
  readonly order: ViewIR[];
  /** Each cycle's members, in the order they read each other. */
  readonly cycles: ViewIR[][];
}

export function orderViews(views: readonly ViewIR[]): ViewOrder {
  const byName = new Map(views.map((v) => [v.name, v]));
  const deps = (v: ViewIR): ViewIR[] => v.references.flatMap((r) => byName.get(r) ?? []);

  // Tarjan's strongly connected components: components come out dependencies first,
  // which is exactly the creation order; a component of several views (or a view that
  // reads itself) is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: ViewIR[] = [];
  const order: ViewIR[] = [];
  const cycles: ViewIR[][] = [];
  let next = 0;

  const visit = (v: ViewIR): void => {
    index.set(v.name, next);
    low.set(v.name, next);
    next++;
    stack.push(v);
    onStack.add(v.name);
    for (const d of deps(v)) {
      if (!index.has(d.name)) {
        visit(d);
        low.set(v.name, Math.min(low.get(v.name)!, low.get(d.name)!));
      } else if (onStack.has(d.name)) {
        low.set(v.name, Math.min(low.get(v.name)!, index.get(d.name)!));
      }
    }
    if (low.get(v.name) !== index.get(v.name)) return;
    const component: ViewIR[] = [];
    let member: ViewIR;
    do {
      member = stack.pop()!;
      onStack.delete(member.name);
      component.unshift(member);
    } while (member !== v);
    if (component.length > 1 || deps(v).includes(v)) cycles.push(component);
    else order.push(v);
  };

  for (const v of views) if (!index.has(v.name)) visit(v);
  return { order, cycles };
}
