"""Seed document 2's examples. Its comments claim `y.grad` prints tensor(4.); it prints None
with a UserWarning, because `y = x * x` is not a leaf (and no backward ran)."""
import torch

# 勾配計算を有効にして計算
x = torch.tensor(2.0, requires_grad=True)
y = x * x
y.retain_grad()
# 勾配計算を無効にして計算
with torch.no_grad():
    z = y + 1
# それぞれのテンソルの grad 属性を確認
print(x.grad)  # torch.tensor(4.)
print(y.grad)  # expect: GL401
print(z.grad)  # None

# 勾配計算の有効/無効化と計算結果
x = torch.tensor(2.0, requires_grad=True)
y = x * x
y.retain_grad()
print(f"勾配計算が有効な場合: y = {y}")
print(f"y.grad = {y.grad}")  # expect: GL401
with torch.no_grad():
    z = y + 1
print(f"勾配計算が無効な場合: z = {z}")
print(f"z.grad = {z.grad}")

# requires_grad 属性
x = torch.tensor(2.0)
x.requires_grad = True
y = x * x
y.retain_grad()
print(f"y = {y}")
print(f"y.grad = {y.grad}")  # expect: GL401
